# The public C API (simplex/simplex.h: SMP queues, XFTP files, error detail,
# version) against an SMP router and an XFTP router started in process on
# loopback (included by CMakeLists.txt).
add_executable(itest_api test_api.c ${PROJECT_SOURCE_DIR}/tests/unit/testutil.c)
target_link_libraries(itest_api PRIVATE sx_client sx_xftp_client sx_router sx_xftp_router PkgConfig::CMOCKA)
target_include_directories(itest_api PRIVATE ${PROJECT_SOURCE_DIR}/tests/unit)
target_compile_definitions(itest_api PRIVATE SX_TEST_DATA_DIR="${SX_TEST_DATA_DIR}")
add_test(NAME integration.api COMMAND itest_api)
set_tests_properties(integration.api PROPERTIES TIMEOUT 300)
