# The SMP router's control port (PROTOCOL-NOTES E32), in process over loopback.
add_executable(itest_control test_control.c ${PROJECT_SOURCE_DIR}/tests/unit/testutil.c)
target_link_libraries(itest_control PRIVATE sx_smp_router sx_smp_client PkgConfig::CMOCKA)
target_include_directories(itest_control PRIVATE ${PROJECT_SOURCE_DIR}/tests/unit)
target_compile_definitions(itest_control PRIVATE SX_TEST_DATA_DIR="${SX_TEST_DATA_DIR}")
add_test(NAME integration.control COMMAND itest_control)
set_tests_properties(integration.control PROPERTIES TIMEOUT 300)
