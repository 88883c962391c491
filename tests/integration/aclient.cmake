# The event-loop SMP client against the router in process over loopback TLS.
add_executable(itest_aclient test_aclient.c ${PROJECT_SOURCE_DIR}/tests/unit/testutil.c)
target_link_libraries(itest_aclient PRIVATE sx_smp_router sx_smp_client PkgConfig::CMOCKA)
target_include_directories(itest_aclient PRIVATE ${PROJECT_SOURCE_DIR}/tests/unit)
target_compile_definitions(itest_aclient PRIVATE SX_TEST_DATA_DIR="${SX_TEST_DATA_DIR}")
add_test(NAME integration.aclient COMMAND itest_aclient)
set_tests_properties(integration.aclient PROPERTIES TIMEOUT 120)
