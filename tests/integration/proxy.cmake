# 2-hop routing with three smp-server programs as child processes: one
# proxy, two destinations (included by CMakeLists.txt).
add_executable(itest_proxy test_proxy.c ${PROJECT_SOURCE_DIR}/tests/unit/testutil.c)
target_link_libraries(itest_proxy PRIVATE sx_smp_client PkgConfig::CMOCKA Threads::Threads)
target_include_directories(itest_proxy PRIVATE ${PROJECT_SOURCE_DIR}/tests/unit)
target_compile_definitions(itest_proxy PRIVATE SX_TEST_DATA_DIR="${SX_TEST_DATA_DIR}"
                           SX_SMP_SERVER_BIN="$<TARGET_FILE:smp-server>")
add_dependencies(itest_proxy smp-server)
add_test(NAME integration.proxy COMMAND itest_proxy)
set_tests_properties(integration.proxy PROPERTIES TIMEOUT 300)
