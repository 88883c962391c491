# XRCP remote control (src/xrcp), included by CMakeLists.txt.
sx_unit_test(xrcp_invitation test_xrcp_invitation.c)
target_link_libraries(test_xrcp_invitation PRIVATE sx_xrcp)
sx_unit_test(xrcp_announce test_xrcp_announce.c)
target_link_libraries(test_xrcp_announce PRIVATE sx_xrcp)
sx_unit_test(xrcp_session test_xrcp_session.c)
target_link_libraries(test_xrcp_session PRIVATE sx_xrcp)
sx_unit_test(xrcp_body test_xrcp_body.c)
target_link_libraries(test_xrcp_body PRIVATE sx_xrcp)
