# The public C API (simplex/simplex.h: SMP queues, XFTP files, error detail,
# version) against an SMP router and an XFTP router started in process on
# loopback (included by CMakeLists.txt).
add_executable(itest_api test_api.c ${PROJECT_SOURCE_DIR}/tests/unit/testutil.c)
target_link_libraries(itest_api PRIVATE sx_smp_client sx_xftp_client sx_smp_router sx_xftp_router PkgConfig::CMOCKA)
target_include_directories(itest_api PRIVATE ${PROJECT_SOURCE_DIR}/tests/unit)
target_compile_definitions(itest_api PRIVATE SX_TEST_DATA_DIR="${SX_TEST_DATA_DIR}")
add_test(NAME integration.api COMMAND itest_api)
set_tests_properties(integration.api PROPERTIES TIMEOUT 300)

# The event-loop flavour (simplex/loop.h, sx_smp_aconn_*) against SMP
# routers started in process on loopback.
add_executable(itest_api_loop test_api_loop.c ${PROJECT_SOURCE_DIR}/tests/unit/testutil.c)
target_link_libraries(itest_api_loop PRIVATE sx_smp_client sx_xftp_client sx_smp_router sx_xftp_router PkgConfig::CMOCKA)
target_include_directories(itest_api_loop PRIVATE ${PROJECT_SOURCE_DIR}/tests/unit)
target_compile_definitions(itest_api_loop PRIVATE SX_TEST_DATA_DIR="${SX_TEST_DATA_DIR}")
add_test(NAME integration.api_loop COMMAND itest_api_loop)
set_tests_properties(integration.api_loop PROPERTIES TIMEOUT 300)
