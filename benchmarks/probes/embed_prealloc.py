"""An alternative ``training.embed`` for ``benchmarks/rss_phases.py`` (RSS_PATCH=this file): the output array is
allocated once, before the batches, instead of a list of per-batch tensors concatenated at the end.
Same forward calls, same values; measured for its effect on the dump phase's resident memory."""
import numpy as np, torch
import siamese_mnist.training as training
@torch.inference_mode()
def embed(model, images, norm, batch_size):
    was_training = model.training
    model.eval()
    out = np.empty((len(images), model.embedding.head[-1].out_features), dtype=np.float32)
    for i in range(0, len(images), batch_size):
        out[i:i + batch_size] = model.embed(norm(images[i:i + batch_size])).float().cpu().numpy()
    model.train(was_training)
    return out
training.embed = embed
