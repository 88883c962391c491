# The SMP router in process over loopback TLS, driven by the client library.
add_executable(itest_router test_router.c ${PROJECT_SOURCE_DIR}/tests/unit/testutil.c)
target_link_libraries(itest_router PRIVATE sx_smp_router sx_smp_client PkgConfig::CMOCKA)
target_include_directories(itest_router PRIVATE ${PROJECT_SOURCE_DIR}/tests/unit)
target_compile_definitions(itest_router PRIVATE SX_TEST_DATA_DIR="${SX_TEST_DATA_DIR}")
add_test(NAME integration.router COMMAND itest_router)
set_tests_properties(integration.router PROPERTIES TIMEOUT 300)
# Message expiry on its own thread while the router's worker is held busy.
add_executable(itest_expiry test_expiry.c ${PROJECT_SOURCE_DIR}/tests/unit/testutil.c)
target_link_libraries(itest_expiry PRIVATE sx_smp_router sx_smp_client PkgConfig::CMOCKA)
target_include_directories(itest_expiry PRIVATE ${PROJECT_SOURCE_DIR}/tests/unit)
target_compile_definitions(itest_expiry PRIVATE SX_TEST_DATA_DIR="${SX_TEST_DATA_DIR}")
add_test(NAME integration.expiry COMMAND itest_expiry)
set_tests_properties(integration.expiry PROPERTIES TIMEOUT 120)
