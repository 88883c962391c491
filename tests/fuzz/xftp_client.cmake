# Fuzz target of the XFTP client's decoding of router bytes (server hello +
# PROTOCOL-NOTES F8 checks) and of description web links (included by CMakeLists.txt).
# Seeds in corpus/xftp_client: hellos built from the shared fixtures (valid,
# other version ranges, wrong chain lengths, truncated) and web links.
sx_fuzz_target(xftp_client)
target_link_libraries(fuzz_xftp_client PRIVATE sx_xftp_client)
# The state file of an unfinished send, read back on a re-run. Seeds in
# corpus/xftp_send_state: a state of two chunks and two recipients, one with
# a chunk not created yet, and damaged copies.
sx_fuzz_target(xftp_send_state)
target_link_libraries(fuzz_xftp_send_state PRIVATE sx_xftp_client)
