# Unit tests of src/ntf (included by CMakeLists.txt).
sx_unit_test(ntf_protocol test_ntf_protocol.c test_smp_util.c)
target_link_libraries(test_ntf_protocol PRIVATE sx_ntf)
sx_unit_test(ntf_setup test_ntf_setup.c)
target_link_libraries(test_ntf_setup PRIVATE sx_ntf_router)
sx_unit_test(ntf_slrec test_ntf_slrec.c)
target_link_libraries(test_ntf_slrec PRIVATE sx_ntf_router)
sx_unit_test(ntf_tokens test_ntf_tokens.c)
target_link_libraries(test_ntf_tokens PRIVATE sx_ntf_router)
