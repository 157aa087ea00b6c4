"""Launch configurations come from device properties, not constants."""

from __future__ import annotations

import dataclasses

import pytest

from fusejit.codegen.cuda.launch import GEMM_TILES, H100, SIMULATOR, gemm_tile, row_launch, stream_launch

SMALL = dataclasses.replace(H100, name="small", sm_count=20, max_threads_per_sm=1024, shared_per_block=12 * 1024)


def test_stream_launch_is_one_wave_of_the_device() -> None:
    assert stream_launch(10**8, H100) == ((132 * 8,), (256,))
    assert stream_launch(10**8, SMALL) == ((20 * 8,), (128,))
    assert stream_launch(1000, H100) == ((4,), (256,))
    assert stream_launch(0, H100)[0] == (0,)


def test_row_launch_whole_warps_and_bounded_grid() -> None:
    grid, block = row_launch(10**6, 4096, H100)
    assert block == (256,) and grid == (132 * 8,)
    assert row_launch(7, 10, H100) == ((7,), (32,))
    assert row_launch(7, 300, SIMULATOR)[1] == (64,)


@pytest.mark.parametrize("props", [H100, SMALL, SIMULATOR], ids=lambda p: p.name)
def test_gemm_tile_fits_the_device(props) -> None:
    for itemsize in (4, 8):
        t = gemm_tile(props, itemsize, None, None)
        nx, ny = t.threads
        assert nx * ny <= props.max_threads_per_block and t.shared_bytes(itemsize) <= props.shared_per_block


def test_gemm_tile_depends_on_shared_memory() -> None:
    assert gemm_tile(H100, 8, None, None) == GEMM_TILES[0]
    assert gemm_tile(SMALL, 8, None, None) != GEMM_TILES[0]


def test_gemm_tile_shrinks_for_small_static_problems() -> None:
    assert gemm_tile(H100, 4, 20, 20).bm <= 32
