# The SMP router's statistics files (backup, daily line, Prometheus metrics),
# in process over loopback.
add_executable(itest_stats test_stats.c ${PROJECT_SOURCE_DIR}/tests/unit/testutil.c
                           ${PROJECT_SOURCE_DIR}/tests/unit/prom_check.c)
target_link_libraries(itest_stats PRIVATE sx_smp_router sx_smp_client PkgConfig::CMOCKA)
target_include_directories(itest_stats PRIVATE ${PROJECT_SOURCE_DIR}/tests/unit)
target_compile_definitions(itest_stats PRIVATE SX_TEST_DATA_DIR="${SX_TEST_DATA_DIR}")
add_test(NAME integration.stats COMMAND itest_stats)
set_tests_properties(integration.stats PROPERTIES TIMEOUT 300)
# The same, and the control port, as a real smp-server process.
add_test(NAME integration.smp_stats_process
         COMMAND sh ${CMAKE_CURRENT_SOURCE_DIR}/test_smp_stats_process.sh $<TARGET_FILE:smp-server>)
set_tests_properties(integration.smp_stats_process PROPERTIES TIMEOUT 120)
