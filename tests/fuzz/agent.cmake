# Fuzz targets of src/agent (included by CMakeLists.txt).
# The blobs the agent store reads back from its SQLite file: the ratchet
# state, the X3DH private keys and message encryption keys (agent/store*.c
# decode them with crypto/ratchet and crypto/x3dh as untrusted bytes).
sx_fuzz_target(agent_store_blobs)
