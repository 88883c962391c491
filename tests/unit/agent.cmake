# The agent (src/agent), included by CMakeLists.txt.
sx_unit_test(agent_version test_agent_version.c)
target_link_libraries(test_agent_version PRIVATE sx_agent)
# The agent's SQLite store: the API, and transactions, concurrency and
# crashes (two handles and forked processes on one file).
sx_unit_test(agent_store test_agent_store.c agent_store_util.c)
target_link_libraries(test_agent_store PRIVATE sx_agent)
sx_unit_test(agent_store_tx test_agent_store_tx.c agent_store_util.c)
target_link_libraries(test_agent_store_tx PRIVATE sx_agent)
