# The XFTP router in process over loopback TLS with a minimal nghttp2 client
# in the test (PROTOCOL-NOTES T9, streaming, quota, expiry, restart, malformed input).
add_executable(itest_xftp_router test_xftp_router.c ${PROJECT_SOURCE_DIR}/tests/unit/testutil.c)
target_link_libraries(itest_xftp_router PRIVATE sx_xftp_router PkgConfig::NGHTTP2 PkgConfig::CMOCKA)
target_include_directories(itest_xftp_router PRIVATE ${PROJECT_SOURCE_DIR}/tests/unit)
target_compile_definitions(itest_xftp_router PRIVATE SX_TEST_DATA_DIR="${SX_TEST_DATA_DIR}")
add_test(NAME integration.xftp_router COMMAND itest_xftp_router)
set_tests_properties(integration.xftp_router PROPERTIES TIMEOUT 180)
