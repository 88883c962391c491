# The agent core (simplex/agent.h): two agents in one process with their own
# store files over the smp-server program as a child process: the fast
# duplex handshake with PQ on and off, messages both ways, the router killed
# and restarted mid-conversation, an agent reopened from its store, ratchet
# re-synchronisation after a store put back to an older copy.
add_executable(itest_agent test_agent.c agent_pair.c pool_router.c ${PROJECT_SOURCE_DIR}/tests/unit/testutil.c)
target_link_libraries(itest_agent PRIVATE sx_agent PkgConfig::CMOCKA Threads::Threads)
target_include_directories(itest_agent PRIVATE ${PROJECT_SOURCE_DIR}/tests/unit)
target_compile_definitions(itest_agent PRIVATE SX_TEST_DATA_DIR="${SX_TEST_DATA_DIR}"
                           SX_SMP_SERVER_BIN="$<TARGET_FILE:smp-server>")
add_dependencies(itest_agent smp-server)
add_test(NAME integration.agent COMMAND itest_agent)
set_tests_properties(integration.agent PROPERTIES TIMEOUT 600)
# Receipts (A_RCVD / RCVD), a full queue (QUOTA, MWARN, the quota marker,
# A_QCONT / QCONT) and batch sends, over the same router program.
add_executable(itest_agent_flow test_agent_flow.c agent_pair.c pool_router.c
                                ${PROJECT_SOURCE_DIR}/tests/unit/testutil.c)
target_link_libraries(itest_agent_flow PRIVATE sx_agent PkgConfig::CMOCKA Threads::Threads)
target_include_directories(itest_agent_flow PRIVATE ${PROJECT_SOURCE_DIR}/tests/unit)
target_compile_definitions(itest_agent_flow PRIVATE SX_TEST_DATA_DIR="${SX_TEST_DATA_DIR}"
                           SX_SMP_SERVER_BIN="$<TARGET_FILE:smp-server>")
add_dependencies(itest_agent_flow smp-server)
add_test(NAME integration.agent_flow COMMAND itest_agent_flow)
set_tests_properties(integration.agent_flow PROPERTIES TIMEOUT 600)
# The simplex-agent program as two users' shells (test_simplex_agent.sh).
add_test(NAME integration.simplex_agent
         COMMAND sh ${CMAKE_CURRENT_SOURCE_DIR}/test_simplex_agent.sh $<TARGET_FILE:smp-server>
                 $<TARGET_FILE:simplex-agent>)
set_tests_properties(integration.simplex_agent PROPERTIES TIMEOUT 300)
# Crash safety of the handshake's stored commands (agent_cmds.c): the
# simplex-agent program ended at each step boundary (SX_AGENT_CRASH_AT),
# its store then opened by an agent of the test that must finish the
# handshake; the joiner's steps retried while the router is down.
add_executable(itest_agent_crash test_agent_crash.c agent_pair.c pool_router.c
                                 ${PROJECT_SOURCE_DIR}/tests/unit/testutil.c)
target_link_libraries(itest_agent_crash PRIVATE sx_agent PkgConfig::CMOCKA Threads::Threads)
target_include_directories(itest_agent_crash PRIVATE ${PROJECT_SOURCE_DIR}/tests/unit)
target_compile_definitions(itest_agent_crash PRIVATE SX_TEST_DATA_DIR="${SX_TEST_DATA_DIR}"
                           SX_SMP_SERVER_BIN="$<TARGET_FILE:smp-server>"
                           SX_AGENT_BIN="$<TARGET_FILE:simplex-agent>")
add_dependencies(itest_agent_crash smp-server simplex-agent)
add_test(NAME integration.agent_crash COMMAND itest_agent_crash)
set_tests_properties(integration.agent_crash PROPERTIES TIMEOUT 900)
