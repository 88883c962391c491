# The SMP connection pool (sx_smp_pool_*) against the smp-server program as a
# child process: kill -9 and restart on the same port, reconnect, resubscribe,
# no message lost or acknowledged twice (included by CMakeLists.txt).
add_executable(itest_pool test_pool.c ${PROJECT_SOURCE_DIR}/tests/unit/testutil.c)
target_link_libraries(itest_pool PRIVATE sx_smp_client PkgConfig::CMOCKA Threads::Threads)
target_include_directories(itest_pool PRIVATE ${PROJECT_SOURCE_DIR}/tests/unit)
target_compile_definitions(itest_pool PRIVATE SX_TEST_DATA_DIR="${SX_TEST_DATA_DIR}"
                           SX_SMP_SERVER_BIN="$<TARGET_FILE:smp-server>")
add_dependencies(itest_pool smp-server)
add_test(NAME integration.pool COMMAND itest_pool)
set_tests_properties(integration.pool PROPERTIES TIMEOUT 300)
