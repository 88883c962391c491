# Fuzz targets of the XFTP router's store (included by CMakeLists.txt).
# Seeds in corpus/xftp_storelog are store-log lines as the reference writes them.
sx_fuzz_target(xftp_storelog)
target_link_libraries(fuzz_xftp_storelog PRIVATE sx_xftp_router)
# Seeds in corpus/xftp_control are control-port command lines, valid and not.
sx_fuzz_target(xftp_control)
target_link_libraries(fuzz_xftp_control PRIVATE sx_xftp_router)
