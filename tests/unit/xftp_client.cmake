# Unit tests of the XFTP client library's offline parts (included by
# CMakeLists.txt).
sx_unit_test(xftp_client test_xftp_client.c)
target_link_libraries(test_xftp_client PRIVATE sx_xftp_client)
