# The SMP connection pool (sx_smp_pool_*, and sx_smp_tpool_* on a thread of
# its own) against the smp-server program as a child process: kill -9 and
# restart on the same port and store, reconnect, resubscribe, no message lost
# or acknowledged twice (included by CMakeLists.txt).
foreach(t pool tpool pool_proxy pool_queue pool_service)
  add_executable(itest_${t} test_${t}.c pool_router.c ${PROJECT_SOURCE_DIR}/tests/unit/testutil.c)
  target_link_libraries(itest_${t} PRIVATE sx_smp_client PkgConfig::CMOCKA Threads::Threads)
  target_include_directories(itest_${t} PRIVATE ${PROJECT_SOURCE_DIR}/tests/unit)
  target_compile_definitions(itest_${t} PRIVATE SX_TEST_DATA_DIR="${SX_TEST_DATA_DIR}"
                             SX_SMP_SERVER_BIN="$<TARGET_FILE:smp-server>")
  add_dependencies(itest_${t} smp-server)
  add_test(NAME integration.${t} COMMAND itest_${t})
  set_tests_properties(integration.${t} PROPERTIES TIMEOUT 300)
endforeach()
