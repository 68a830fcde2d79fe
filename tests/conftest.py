import pytest
import torch

# The test nets are tiny: extra intra-op threads only add contention on small CI machines.
torch.set_num_threads(1)


@pytest.fixture(autouse=True)
def _seeded():
    """Every test starts from the same global RNG state, so thresholds are not luck."""
    torch.manual_seed(0)
    yield


def blobs(n: int, num_classes: int, dim: int, seed: int = 0, spread: float = 0.35):
    """Gaussian clusters in [0, 1]^dim: a small separable problem generated on the fly."""
    g = torch.Generator().manual_seed(seed)
    centers = torch.rand(num_classes, dim, generator=g)
    y = torch.randint(0, num_classes, (n,), generator=g)
    x = centers[y] + spread * torch.randn(n, dim, generator=g) / dim**0.5
    return x, y
