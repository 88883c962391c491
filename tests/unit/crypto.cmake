# Unit tests of src/crypto symmetric and hash primitives (included by CMakeLists.txt).
sx_unit_test(util test_util.c)
sx_unit_test(hash test_hash.c)
sx_unit_test(aead test_aead.c)
sx_unit_test(secretbox test_secretbox.c)
sx_unit_test(box test_box.c)
sx_unit_test(sbchain test_sbchain.c)
