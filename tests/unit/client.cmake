# Unit tests of src/client (included by CMakeLists.txt).
sx_unit_test(queue_file test_queue_file.c)
target_link_libraries(test_queue_file PRIVATE sx_smp_client)
