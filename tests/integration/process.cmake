# The smp-server program as a child process of the tests (fork + exec of the
# built executable): restarts after SIGINT, SIGTERM and kill -9 under load,
# malformed traffic, and the store log in the reference's format (included
# by CMakeLists.txt).
add_executable(itest_process test_process.c ${PROJECT_SOURCE_DIR}/tests/unit/testutil.c)
target_link_libraries(itest_process PRIVATE sx_smp_client PkgConfig::CMOCKA Threads::Threads)
target_include_directories(itest_process PRIVATE ${PROJECT_SOURCE_DIR}/tests/unit)
target_compile_definitions(itest_process PRIVATE SX_TEST_DATA_DIR="${SX_TEST_DATA_DIR}"
                           SX_SMP_SERVER_BIN="$<TARGET_FILE:smp-server>")
add_dependencies(itest_process smp-server)
add_test(NAME integration.process COMMAND itest_process)
set_tests_properties(integration.process PROPERTIES TIMEOUT 600)
