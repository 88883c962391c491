# One agent test program: test_<file>.c with the pair helpers over the
# smp-server program as a child process; ctest entry integration.<name>.
function(sx_agent_itest name file timeout)
  add_executable(itest_${name} ${file} agent_pair.c pool_router.c
                 ${PROJECT_SOURCE_DIR}/tests/unit/testutil.c)
  target_link_libraries(itest_${name} PRIVATE sx_agent PkgConfig::CMOCKA Threads::Threads)
  target_include_directories(itest_${name} PRIVATE ${PROJECT_SOURCE_DIR}/tests/unit)
  target_compile_definitions(itest_${name} PRIVATE SX_TEST_DATA_DIR="${SX_TEST_DATA_DIR}"
                             SX_SMP_SERVER_BIN="$<TARGET_FILE:smp-server>")
  add_dependencies(itest_${name} smp-server)
  add_test(NAME integration.${name} COMMAND itest_${name})
  set_tests_properties(integration.${name} PROPERTIES TIMEOUT ${timeout})
endfunction()
# The agent core (simplex/agent.h): two agents in one process with their own
# store files over the smp-server program as a child process: the fast
# duplex handshake with PQ on and off, messages both ways, the router killed
# and restarted mid-conversation, an agent reopened from its store, ratchet
# re-synchronisation after a store put back to an older copy.
sx_agent_itest(agent test_agent.c 600)
# Receipts (A_RCVD / RCVD), a full queue (QUOTA, MWARN, the quota marker,
# A_QCONT / QCONT) and batch sends, over the same router program.
sx_agent_itest(agent_flow test_agent_flow.c 600)
# The simplex-agent program as two users' shells (test_simplex_agent.sh).
add_test(NAME integration.simplex_agent
         COMMAND sh ${CMAKE_CURRENT_SOURCE_DIR}/test_simplex_agent.sh $<TARGET_FILE:smp-server>
                 $<TARGET_FILE:simplex-agent>)
set_tests_properties(integration.simplex_agent PROPERTIES TIMEOUT 300)
# Private message routing of the agent's sends (test_agent_proxy.c): three
# routers (the queues', a proxy, a proxy that cannot reach the queues'
# host), every proxy mode and fallback, the proxy down and back.
sx_agent_itest(agent_proxy test_agent_proxy.c 600)
# Per-message PQ switching (test_agent_pq.c): a connection made without PQ,
# PQ turned on, off, on and off again message by message, as the
# reference's "should establish connection without PQ encryption and
# enable it".
sx_agent_itest(agent_pq test_agent_pq.c 600)
# Suspending the agent and bringing it back (test_agent_suspend.c), as the
# reference's "Suspending agent" tests.
sx_agent_itest(agent_suspend test_agent_suspend.c 600)
# The reference's offline scenarios (test_agent_async.c): agents closed and
# opened again during the handshake and while sending, routers down (one of
# them a second smp-server), and mixed PQ settings.
sx_agent_itest(agent_async test_agent_async.c 600)
# The asynchronous calls (test_agent_asyncapi.c), as the reference's "Async
# agent commands": create / join into a prepared id / allow / accept
# reported by INV / JOINED / OK with the caller's correlation id, also with
# the router down at the call and the agent reopened before it comes back.
sx_agent_itest(agent_asyncapi test_agent_asyncapi.c 600)
# Queue rotation (test_agent_switch.c): the same router, another router,
# restarts in the middle, abort.
sx_agent_itest(agent_switch test_agent_switch.c 600)
# Short links: an invitation and a contact address joined by their short
# links, the address's user data replaced and deleted, bad links refused.
sx_agent_itest(agent_shortlink test_agent_shortlink.c 600)
# Crash safety of the handshake's stored commands (agent_cmds.c): the
# simplex-agent program ended at each step boundary (SX_AGENT_CRASH_AT),
# its store then opened by an agent of the test that must finish the
# handshake; the joiner's steps retried while the router is down.
sx_agent_itest(agent_crash test_agent_crash.c 900)
target_compile_definitions(itest_agent_crash PRIVATE SX_AGENT_BIN="$<TARGET_FILE:simplex-agent>")
add_dependencies(itest_agent_crash simplex-agent)
# Versions between agents (test_agent_versions.c): e2e ratchet versions 2
# and 3 in every combination through invitations and addresses, the
# connection's agent version raised by the peer's messages and never
# lowered, the ratchet's associated-data hash on both sides.
sx_agent_itest(agent_versions test_agent_versions.c 600)
# The agent's timers and housekeeping (test_agent_upkeep.c): a persisted
# command's back-off and a delivery's slow QUOTA interval kept across a
# restart, the HELLO timeout, the periodic cleanup of old sent messages and
# hashes.
sx_agent_itest(agent_upkeep test_agent_upkeep.c 600)
# More of the reference's scenarios (test_agent_scen.c): the same link
# joined again after errors (keys and ratchet of the first attempt kept),
# messages lost by the router reported as skipped, the matrix of routers'
# passwords for creating queues, deleting a connection after its pending
# deliveries, and unsubscribed queues read with GET.
sx_agent_itest(agent_scen test_agent_scen.c 900)
# The reference's message expiration scenarios beyond test_agent_flow.c's
# (a network error, a full queue, one and many messages) and the delivery
# receipts' version gate and concurrent use (test_agent_expiry.c).
sx_agent_itest(agent_expiry test_agent_expiry.c 900)
# The reference's switch scenarios beyond test_agent_switch.c's
# (test_agent_switch2.c): a switch then the connection deleted, two
# connections switched at once with the agents taking turns, one of the
# two aborted.
sx_agent_itest(agent_switch2 test_agent_switch2.c 600)
# Users (sx_agent_user_create / _delete, the *_for_user calls) and the
# subscription of chosen connections (sx_agent_subscribe / _unsubscribe),
# test_agent_users.c.
sx_agent_itest(agent_users test_agent_users.c 600)
# Kill -9 at random times (test_agent_killsoak.sh): two simplex-agent stores
# over the smp-server program, the handshake's processes (invite, join, both
# listens) and then the sender's `send`s and the receiver's `listen` killed
# after seeded random delays and run again; every confirmed message arrives
# once, in order, with integrity OK. SX_KILLSOAK_ITERATIONS (default 20)
# kills on each side; scripts/agent-killsoak runs it longer.
add_test(NAME integration.agent_killsoak
         COMMAND sh ${CMAKE_CURRENT_SOURCE_DIR}/test_agent_killsoak.sh $<TARGET_FILE:smp-server>
                 $<TARGET_FILE:simplex-agent>)
set_tests_properties(integration.agent_killsoak PROPERTIES TIMEOUT 600)
# Retries after errors (test_agent_retry.c): a contact address joined again
# after errors (the first attempt's connection and queue kept), receiving
# queues whose deletion failed retried until their router takes it, a queue
# read with GET subscribed by subscribe_all.
sx_agent_itest(agent_retry test_agent_retry.c 900)
