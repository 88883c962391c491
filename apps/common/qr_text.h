/* A QR code as terminal text, shared by the programs that print links
 * (xrcp ctrl --qr, simplex-agent invite --qr). */
#ifndef SX_APPS_QR_TEXT_H
#define SX_APPS_QR_TEXT_H

#include <stdbool.h>
#include <stdio.h>

/* Prints text as a QR code on out (libqrencode: byte mode, the exact
 * bytes, error correction L, the smallest version that holds them), drawn
 * with half-block characters, two rows of modules a line, the light
 * modules drawn (a terminal's text is light on dark), inside a light
 * margin of 2 modules, between the lines "qr begin" and "qr end"
 * (tests/integration/qr_decode.py reads it back). False when libqrencode
 * cannot encode the text (nothing printed). */
bool qr_text_print(FILE *out, const char *text);

#endif
