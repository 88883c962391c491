# The agent (src/agent), included by CMakeLists.txt.
sx_unit_test(agent_version test_agent_version.c)
target_link_libraries(test_agent_version PRIVATE sx_agent)
# The key -> index map of the agent's queue tables.
sx_unit_test(agent_idmap test_agent_idmap.c)
target_link_libraries(test_agent_idmap PRIVATE sx_agent)
sx_unit_test(agent_links test_agent_links.c)
target_link_libraries(test_agent_links PRIVATE sx_agent)
sx_unit_test(agent_messages test_agent_messages.c)
target_link_libraries(test_agent_messages PRIVATE sx_agent)
sx_unit_test(agent_shortlink test_agent_shortlink.c)
target_link_libraries(test_agent_shortlink PRIVATE sx_agent)
# The agent's SQLite store: the API, and transactions, concurrency and
# crashes (two handles and forked processes on one file).
sx_unit_test(agent_store test_agent_store.c agent_store_util.c)
target_link_libraries(test_agent_store PRIVATE sx_agent)
sx_unit_test(agent_store_tx test_agent_store_tx.c agent_store_util.c)
target_link_libraries(test_agent_store_tx PRIVATE sx_agent)
# Ratchet re-synchronisation rules on an agent with no router (the
# exchange itself is in tests/integration/test_agent.c).
sx_unit_test(agent_sync test_agent_sync.c agent_store_util.c)
target_link_libraries(test_agent_sync PRIVATE sx_agent)
# The event queue: order, sx_agent_next without waiting, and the
# descriptor of sx_agent_event_fd readable exactly while an event waits.
sx_unit_test(agent_events test_agent_events.c agent_store_util.c)
target_link_libraries(test_agent_events PRIVATE sx_agent Threads::Threads)
# The store's delivery receipts.
sx_unit_test(agent_store_rcpt test_agent_store_rcpt.c agent_store_util.c)
target_link_libraries(test_agent_store_rcpt PRIVATE sx_agent)
# The store's part of queue rotation (switch status, primary, deletion).
sx_unit_test(agent_store_switch test_agent_store_switch.c agent_store_util.c)
target_link_libraries(test_agent_store_switch PRIVATE sx_agent)
# Commands held by one process (store_cmd.c).
sx_unit_test(agent_store_cmd test_agent_store_cmd.c agent_store_util.c)
target_link_libraries(test_agent_store_cmd PRIVATE sx_agent)
# Retry intervals of commands and the periodic cleanup (store_cmd.c,
# store_cleanup.c).
sx_unit_test(agent_store_upkeep test_agent_store_upkeep.c agent_store_util.c)
target_link_libraries(test_agent_store_upkeep PRIVATE sx_agent)
