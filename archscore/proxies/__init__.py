"""Zero-cost proxies: score an untrained ``torch.nn.Module`` from one minibatch."""
