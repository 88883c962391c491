# Fuzz targets of XRCP (src/xrcp), included by CMakeLists.txt.
sx_fuzz_target(xrcp_invitation)
target_link_libraries(fuzz_xrcp_invitation PRIVATE sx_xrcp)
sx_fuzz_target(xrcp_announce)
target_link_libraries(fuzz_xrcp_announce PRIVATE sx_xrcp)
sx_fuzz_target(xrcp_hello)
target_link_libraries(fuzz_xrcp_hello PRIVATE sx_xrcp)
sx_fuzz_target(xrcp_body)
target_link_libraries(fuzz_xrcp_body PRIVATE sx_xrcp)
