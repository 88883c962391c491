# Post-quantum KEM (crypto/sntrup761), included by CMakeLists.txt.
sx_unit_test(sntrup761 test_sntrup761.c)
