# Post-quantum KEM (crypto/sntrup761), included by CMakeLists.txt.
sx_unit_test(sntrup761 test_sntrup761.c)
# Double ratchet and E2E key agreement (crypto/x3dh, crypto/ratchet).
sx_unit_test(ratchet test_ratchet.c)
# About 23 s under ASan+UBSan on an idle machine; 120 s was not enough on a
# loaded one (two cores shared with other builds).
set_tests_properties(unit.sntrup761 PROPERTIES TIMEOUT 300)
