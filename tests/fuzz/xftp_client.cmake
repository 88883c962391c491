# Fuzz target of the XFTP client's decoding of router bytes (server hello +
# PROTOCOL-NOTES F8 checks) and of description web links (included by CMakeLists.txt).
# Seeds in corpus/xftp_client: hellos built from the shared fixtures (valid,
# other version ranges, wrong chain lengths, truncated) and web links.
sx_fuzz_target(xftp_client)
target_link_libraries(fuzz_xftp_client PRIVATE sx_xftp_client)
