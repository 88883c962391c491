# Unit tests of src/transport (included by CMakeLists.txt).
sx_unit_test(block test_block.c)
sx_unit_test(smp_handshake test_smp_handshake.c)
sx_unit_test(socks test_socks.c)
