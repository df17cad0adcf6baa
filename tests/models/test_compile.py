"""``SoftRasModule(compile_net=True)`` on the CPU, with a backend that compiles quickly."""

import torch
import torch._dynamo

import softrec
from softrec.models import SoftRasModule
from tests.models.test_networks import square_two_view_batch, tiny_net


def test_compiled_network_gives_the_eager_losses_and_gradients():
    torch._dynamo.reset()
    torch.manual_seed(0)
    renderer = softrec.SoftRenderer(image_size=16, sigma=1e-4, dist_eps=1e-10, viewing_angle=15)
    compiled = SoftRasModule(tiny_net(), renderer, None, compile_net=True,
                             compile_backend="aot_eager")  # fmt: skip
    eager = SoftRasModule(tiny_net(), renderer, None)
    eager.net.load_state_dict(compiled.net.state_dict())
    assert isinstance(compiled.__dict__["_net_forward"], torch._dynamo.eval_frame.OptimizedModule)
    batch = square_two_view_batch()
    losses = []
    for module in (compiled, eager):
        loss = module.compute_losses(batch)[0]["loss"]
        loss.backward()
        losses.append(loss.detach())
    torch.testing.assert_close(losses[0], losses[1], rtol=1e-5, atol=1e-6)
    for (name, p), q in zip(compiled.net.named_parameters(), eager.net.parameters(), strict=True):
        assert p.grad is not None, name
        torch.testing.assert_close(p.grad, q.grad, rtol=1e-4, atol=1e-6, msg=name)
    torch._dynamo.reset()
