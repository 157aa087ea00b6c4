/* Print the AOT-compiled CNN's predicted digit for each image: no Python, only libmnist_cnn.
 *
 *   usage: predict images.bin
 *   images.bin: int64 n, then n x 8 x 8 x 1 float32 pixels (NHWC, row-major).
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include "mnist_cnn.h"

int main(int argc, char **argv) {
    if (argc != 2) {
        fprintf(stderr, "usage: %s images.bin\n", argv[0]);
        return 2;
    }
    FILE *f = fopen(argv[1], "rb");
    int64_t n;
    if (!f || fread(&n, sizeof n, 1, f) != 1 || n < 0) {
        fprintf(stderr, "cannot read %s\n", argv[1]);
        return 2;
    }
    float *x = malloc((size_t)n * 64 * sizeof(float) + 1);
    if (fread(x, sizeof(float), (size_t)n * 64, f) != (size_t)n * 64) {
        fprintf(stderr, "%s is truncated\n", argv[1]);
        return 2;
    }
    fclose(f);
    int64_t *predicted = malloc((size_t)mnist_cnn_output_nbytes(n, MNIST_CNN_OUTPUT_OUT) + 1);
    int status = mnist_cnn_run(n, x, predicted);
    if (status != MNIST_CNN_OK) {
        fprintf(stderr, "mnist_cnn_run failed: %s\n", mnist_cnn_status_message(status));
        return 1;
    }
    for (int64_t i = 0; i < n; i++)
        printf("%lld%s", (long long)predicted[i], i + 1 < n ? " " : "\n");
    free(x);
    free(predicted);
    return 0;
}
