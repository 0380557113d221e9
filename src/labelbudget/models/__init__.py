"""Stage 3, models: the pretrained networks a run trains or reads.

- `backbone`: embedded names, Hugging Face ids and local folders; checking before any work,
  loading, device and dtype, running a backbone on packed batches;
- `classifier`: LoRA and a new 2-logit head on a backbone (what the LoRA learner trains);
- `packing`: tokenizing, and laying a batch's texts end to end in rows (sequence packing);
- `activations`: the frozen backbone's pooled hidden states, cached once (what probes read).
"""
