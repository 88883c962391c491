# The agent core (simplex/agent.h): two agents in one process with their own
# store files over the smp-server program as a child process: the fast
# duplex handshake with PQ on and off, messages both ways, the router killed
# and restarted mid-conversation, an agent reopened from its store, ratchet
# re-synchronisation after a store put back to an older copy.
add_executable(itest_agent test_agent.c pool_router.c ${PROJECT_SOURCE_DIR}/tests/unit/testutil.c)
target_link_libraries(itest_agent PRIVATE sx_agent PkgConfig::CMOCKA Threads::Threads)
target_include_directories(itest_agent PRIVATE ${PROJECT_SOURCE_DIR}/tests/unit)
target_compile_definitions(itest_agent PRIVATE SX_TEST_DATA_DIR="${SX_TEST_DATA_DIR}"
                           SX_SMP_SERVER_BIN="$<TARGET_FILE:smp-server>")
add_dependencies(itest_agent smp-server)
add_test(NAME integration.agent COMMAND itest_agent)
set_tests_properties(integration.agent PROPERTIES TIMEOUT 600)
# The simplex-agent program as two users' shells (test_simplex_agent.sh).
add_test(NAME integration.simplex_agent
         COMMAND sh ${CMAKE_CURRENT_SOURCE_DIR}/test_simplex_agent.sh $<TARGET_FILE:smp-server>
                 $<TARGET_FILE:simplex-agent>)
set_tests_properties(integration.simplex_agent PROPERTIES TIMEOUT 300)
# Queue rotation (test_agent_switch.c): the same router, another router,
# restarts in the middle, abort.
add_executable(itest_agent_switch test_agent_switch.c pool_router.c
               ${PROJECT_SOURCE_DIR}/tests/unit/testutil.c)
target_link_libraries(itest_agent_switch PRIVATE sx_agent PkgConfig::CMOCKA Threads::Threads)
target_include_directories(itest_agent_switch PRIVATE ${PROJECT_SOURCE_DIR}/tests/unit)
target_compile_definitions(itest_agent_switch PRIVATE SX_TEST_DATA_DIR="${SX_TEST_DATA_DIR}"
                           SX_SMP_SERVER_BIN="$<TARGET_FILE:smp-server>")
add_dependencies(itest_agent_switch smp-server)
add_test(NAME integration.agent_switch COMMAND itest_agent_switch)
set_tests_properties(integration.agent_switch PROPERTIES TIMEOUT 600)
