# Unit tests of the XFTP client library's offline parts (included by
# CMakeLists.txt).
sx_unit_test(xftp_client test_xftp_client.c)
target_link_libraries(test_xftp_client PRIVATE sx_xftp_client)
# The words of the client's failures (pure functions of transfer_err.c).
sx_unit_test(xftp_messages test_xftp_messages.c)
target_link_libraries(test_xftp_messages PRIVATE sx_xftp_client)
# The state file of an unfinished send (transfer_state.c), read back from disk.
sx_unit_test(xftp_send_state test_xftp_send_state.c)
target_link_libraries(test_xftp_send_state PRIVATE sx_xftp_client)
