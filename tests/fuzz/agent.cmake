# Fuzz targets of the agent's codecs (src/agent), included by CMakeLists.txt.
sx_fuzz_target(agent_link)
target_link_libraries(fuzz_agent_link PRIVATE sx_agent)
sx_fuzz_target(agent_connreq)
target_link_libraries(fuzz_agent_connreq PRIVATE sx_agent)
sx_fuzz_target(agent_envelope)
target_link_libraries(fuzz_agent_envelope PRIVATE sx_agent)
sx_fuzz_target(agent_message)
target_link_libraries(fuzz_agent_message PRIVATE sx_agent)
sx_fuzz_target(agent_shortlink)
target_link_libraries(fuzz_agent_shortlink PRIVATE sx_agent)
# The blobs the agent store reads back from its SQLite file: the ratchet
# state, the X3DH private keys and message encryption keys (agent/store*.c
# decode them with crypto/ratchet and crypto/x3dh as untrusted bytes).
sx_fuzz_target(agent_store_blobs)
