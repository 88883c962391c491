# Unit tests of src/xftp (included by CMakeLists.txt).
sx_unit_test(xftp_protocol test_xftp_protocol.c test_smp_util.c)
target_link_libraries(test_xftp_protocol PRIVATE sx_xftp)
sx_unit_test(xftp_description test_xftp_description.c)
target_link_libraries(test_xftp_description PRIVATE sx_xftp)
sx_unit_test(xftp_filecrypt test_xftp_filecrypt.c)
target_link_libraries(test_xftp_filecrypt PRIVATE sx_xftp)
