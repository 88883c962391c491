/* A QR code as terminal text (qr_text.h). */
#include "common/qr_text.h"

#include <string.h>

#include <qrencode.h>

#define QR_MARGIN 2

static bool qr_light(const QRcode *q, int x, int y)
{
    if (x < 0 || y < 0 || x >= q->width || y >= q->width)
        return true;
    return (q->data[y * q->width + x] & 1) == 0;
}

bool qr_text_print(FILE *out, const char *text)
{
    QRcode *q = QRcode_encodeData((int)strlen(text), (const unsigned char *)text, 0, QR_ECLEVEL_L);
    if (q == NULL)
        return false;
    fputs("qr begin\n", out);
    for (int y = -QR_MARGIN; y < q->width + QR_MARGIN; y += 2) {
        for (int x = -QR_MARGIN; x < q->width + QR_MARGIN; x++) {
            bool top = qr_light(q, x, y);
            bool bottom = y + 1 < q->width + QR_MARGIN ? qr_light(q, x, y + 1) : false;
            fputs(top && bottom ? "\u2588" : top  ? "\u2580"
                                         : bottom ? "\u2584"
                                                  : " ",
                  out);
        }
        fputc('\n', out);
    }
    fputs("qr end\n", out);
    QRcode_free(q);
    return true;
}
