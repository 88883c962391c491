# Unit tests of src/smp (included by CMakeLists.txt).
sx_unit_test(smp_command test_smp_command.c test_smp_util.c)
sx_unit_test(smp_transmission test_smp_transmission.c test_smp_util.c)
sx_unit_test(smp_response test_smp_response.c test_smp_util.c)
sx_unit_test(smp_msgcrypt test_smp_msgcrypt.c test_smp_util.c)
sx_unit_test(smp_encoding test_smp_encoding.c test_smp_util.c)
sx_unit_test(address test_address.c)
