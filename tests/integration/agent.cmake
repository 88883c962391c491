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
# Private message routing of the agent's sends (test_agent_proxy.c): three
# routers (the queues', a proxy, a proxy that cannot reach the queues'
# host), every proxy mode and fallback, the proxy down and back.
add_executable(itest_agent_proxy test_agent_proxy.c agent_pair.c pool_router.c
               ${PROJECT_SOURCE_DIR}/tests/unit/testutil.c)
target_link_libraries(itest_agent_proxy PRIVATE sx_agent PkgConfig::CMOCKA Threads::Threads)
target_include_directories(itest_agent_proxy PRIVATE ${PROJECT_SOURCE_DIR}/tests/unit)
target_compile_definitions(itest_agent_proxy PRIVATE SX_TEST_DATA_DIR="${SX_TEST_DATA_DIR}"
                           SX_SMP_SERVER_BIN="$<TARGET_FILE:smp-server>")
add_dependencies(itest_agent_proxy smp-server)
add_test(NAME integration.agent_proxy COMMAND itest_agent_proxy)
set_tests_properties(integration.agent_proxy PROPERTIES TIMEOUT 600)
# Per-message PQ switching (test_agent_pq.c): a connection made without PQ,
# PQ turned on, off, on and off again message by message, as the
# reference's "should establish connection without PQ encryption and
# enable it".
add_executable(itest_agent_pq test_agent_pq.c agent_pair.c pool_router.c
               ${PROJECT_SOURCE_DIR}/tests/unit/testutil.c)
target_link_libraries(itest_agent_pq PRIVATE sx_agent PkgConfig::CMOCKA Threads::Threads)
target_include_directories(itest_agent_pq PRIVATE ${PROJECT_SOURCE_DIR}/tests/unit)
target_compile_definitions(itest_agent_pq PRIVATE SX_TEST_DATA_DIR="${SX_TEST_DATA_DIR}"
                           SX_SMP_SERVER_BIN="$<TARGET_FILE:smp-server>")
add_dependencies(itest_agent_pq smp-server)
add_test(NAME integration.agent_pq COMMAND itest_agent_pq)
set_tests_properties(integration.agent_pq PROPERTIES TIMEOUT 600)
# Suspending the agent and bringing it back (test_agent_suspend.c), as the
# reference's "Suspending agent" tests.
add_executable(itest_agent_suspend test_agent_suspend.c agent_pair.c pool_router.c
               ${PROJECT_SOURCE_DIR}/tests/unit/testutil.c)
target_link_libraries(itest_agent_suspend PRIVATE sx_agent PkgConfig::CMOCKA Threads::Threads)
target_include_directories(itest_agent_suspend PRIVATE ${PROJECT_SOURCE_DIR}/tests/unit)
target_compile_definitions(itest_agent_suspend PRIVATE SX_TEST_DATA_DIR="${SX_TEST_DATA_DIR}"
                           SX_SMP_SERVER_BIN="$<TARGET_FILE:smp-server>")
add_dependencies(itest_agent_suspend smp-server)
add_test(NAME integration.agent_suspend COMMAND itest_agent_suspend)
set_tests_properties(integration.agent_suspend PROPERTIES TIMEOUT 600)
# The reference's offline scenarios (test_agent_async.c): agents closed and
# opened again during the handshake and while sending, routers down (one of
# them a second smp-server), and mixed PQ settings.
add_executable(itest_agent_async test_agent_async.c agent_pair.c pool_router.c
                                 ${PROJECT_SOURCE_DIR}/tests/unit/testutil.c)
target_link_libraries(itest_agent_async PRIVATE sx_agent PkgConfig::CMOCKA Threads::Threads)
target_include_directories(itest_agent_async PRIVATE ${PROJECT_SOURCE_DIR}/tests/unit)
target_compile_definitions(itest_agent_async PRIVATE SX_TEST_DATA_DIR="${SX_TEST_DATA_DIR}"
                           SX_SMP_SERVER_BIN="$<TARGET_FILE:smp-server>")
add_dependencies(itest_agent_async smp-server)
add_test(NAME integration.agent_async COMMAND itest_agent_async)
set_tests_properties(integration.agent_async PROPERTIES TIMEOUT 600)
# Queue rotation (test_agent_switch.c): the same router, another router,
# restarts in the middle, abort.
add_executable(itest_agent_switch test_agent_switch.c agent_pair.c pool_router.c
               ${PROJECT_SOURCE_DIR}/tests/unit/testutil.c)
target_link_libraries(itest_agent_switch PRIVATE sx_agent PkgConfig::CMOCKA Threads::Threads)
target_include_directories(itest_agent_switch PRIVATE ${PROJECT_SOURCE_DIR}/tests/unit)
target_compile_definitions(itest_agent_switch PRIVATE SX_TEST_DATA_DIR="${SX_TEST_DATA_DIR}"
                           SX_SMP_SERVER_BIN="$<TARGET_FILE:smp-server>")
add_dependencies(itest_agent_switch smp-server)
add_test(NAME integration.agent_switch COMMAND itest_agent_switch)
set_tests_properties(integration.agent_switch PROPERTIES TIMEOUT 600)
# Short links: an invitation and a contact address joined by their short
# links, the address's user data replaced and deleted, bad links refused.
add_executable(itest_agent_shortlink test_agent_shortlink.c agent_pair.c pool_router.c
                                     ${PROJECT_SOURCE_DIR}/tests/unit/testutil.c)
target_link_libraries(itest_agent_shortlink PRIVATE sx_agent PkgConfig::CMOCKA Threads::Threads)
target_include_directories(itest_agent_shortlink PRIVATE ${PROJECT_SOURCE_DIR}/tests/unit)
target_compile_definitions(itest_agent_shortlink PRIVATE SX_TEST_DATA_DIR="${SX_TEST_DATA_DIR}"
                           SX_SMP_SERVER_BIN="$<TARGET_FILE:smp-server>")
add_dependencies(itest_agent_shortlink smp-server)
add_test(NAME integration.agent_shortlink COMMAND itest_agent_shortlink)
set_tests_properties(integration.agent_shortlink PROPERTIES TIMEOUT 600)
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
