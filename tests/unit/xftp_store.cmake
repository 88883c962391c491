# Unit tests of the XFTP router's file store, store log and configuration
# (included by CMakeLists.txt).
sx_unit_test(xftp_fstore test_xftp_fstore.c)
target_link_libraries(test_xftp_fstore PRIVATE sx_xftp_router)
sx_unit_test(xftp_srvconfig test_xftp_srvconfig.c)
target_link_libraries(test_xftp_srvconfig PRIVATE sx_xftp_router)
sx_unit_test(xftp_control test_xftp_control.c)
target_link_libraries(test_xftp_control PRIVATE sx_xftp_router)
sx_unit_test(xftp_stats test_xftp_stats.c)
target_link_libraries(test_xftp_stats PRIVATE sx_xftp_router)
sx_unit_test(xftp_idmap test_xftp_idmap.c)
target_link_libraries(test_xftp_idmap PRIVATE sx_xftp_router)
