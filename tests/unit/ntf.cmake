# Unit tests of src/ntf (included by CMakeLists.txt).
sx_unit_test(ntf_protocol test_ntf_protocol.c test_smp_util.c)
target_link_libraries(test_ntf_protocol PRIVATE sx_ntf)
