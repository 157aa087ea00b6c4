/* Serve the AOT-compiled digits classifier from C: no Python, no fusejit, only libdigits.
 *
 *   usage: serve test.bin
 *   test.bin: int64 n, then n x 64 float32 pixels (row-major), then n int64 labels.
 * Prints the test-set accuracy, computed from the library's predicted labels.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include "digits.h"

int main(int argc, char **argv) {
    if (argc != 2) {
        fprintf(stderr, "usage: %s test.bin\n", argv[0]);
        return 2;
    }
    FILE *f = fopen(argv[1], "rb");
    int64_t n;
    if (!f || fread(&n, sizeof n, 1, f) != 1 || n < 0) {
        fprintf(stderr, "cannot read %s\n", argv[1]);
        return 2;
    }
    float *x = malloc((size_t)n * 64 * sizeof(float) + 1);
    int64_t *labels = malloc((size_t)n * sizeof(int64_t) + 1);
    if (fread(x, sizeof(float), (size_t)n * 64, f) != (size_t)n * 64 ||
        fread(labels, sizeof(int64_t), (size_t)n, f) != (size_t)n) {
        fprintf(stderr, "%s is truncated\n", argv[1]);
        return 2;
    }
    fclose(f);

    /* Ask the library how big the outputs are for this batch size, then run it. */
    float *probs = malloc((size_t)digits_output_nbytes(n, DIGITS_OUTPUT_OUT0) + 1);
    int64_t *predicted = malloc((size_t)digits_output_nbytes(n, DIGITS_OUTPUT_OUT1) + 1);
    int status = digits_run(n, x, probs, predicted);
    if (status != DIGITS_OK) {
        fprintf(stderr, "digits_run failed: %s\n", digits_status_message(status));
        return 1;
    }
    int64_t correct = 0;
    for (int64_t i = 0; i < n; i++)
        correct += predicted[i] == labels[i];
    printf("C accuracy:      %.4f (%lld/%lld)\n", n ? (double)correct / (double)n : 0.0, (long long)correct,
           (long long)n);
    free(x);
    free(labels);
    free(probs);
    free(predicted);
    return 0;
}
