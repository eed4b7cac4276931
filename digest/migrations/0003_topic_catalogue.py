# The starting topic catalogue of a new installation. Operators edit or delete
# these in the admin; the migration adds only names that are not there yet, and
# reversing it removes only topics still holding the query written here.

from django.db import migrations

# (name, description, query in the topic language: see docs/matching.md)
CATALOGUE = [
    (
        "Large language models",
        "Training, scaling and behaviour of large language models.",
        '"large language model", LLM, "language model" pretraining, "instruction tuning"',
    ),
    (
        "Reasoning",
        "Chain-of-thought, mathematical and multi-step reasoning in models.",
        'title:reasoning, "chain of thought", "test-time compute", "mathematical reasoning"',
    ),
    (
        "LLM agents",
        "Language models that plan, call tools and act in environments.",
        '"language agent", "LLM agent", "agentic", "tool use", "web agent", "multi-agent"',
    ),
    (
        "Retrieval-augmented generation",
        "Grounding generation in retrieved documents.",
        '"retrieval-augmented generation", RAG, "retrieval augmented", "dense retrieval"',
    ),
    (
        "RLHF and preference learning",
        "Reinforcement learning from human feedback, DPO and reward models.",
        '"reinforcement learning from human feedback", RLHF, "preference optimization", '
        '"reward model", DPO',
    ),
    (
        "Reinforcement learning",
        "Policy learning, offline RL, exploration.",
        '("reinforcement learning", "policy optimization", "offline RL") -"human feedback"',
    ),
    (
        "Knowledge distillation",
        "Compressing a teacher model into a student.",
        '"knowledge distillation", "model distillation", "distillation loss", "teacher-student"',
    ),
    (
        "Mixture of experts",
        "Sparse expert models and routing.",
        '"mixture of experts", MoE, "sparse experts", "expert routing"',
    ),
    (
        "Efficient inference and quantization",
        "Quantization, pruning, speculative decoding and serving.",
        'quantization, pruning, "speculative decoding", "efficient inference", "KV cache", '
        '"low-bit"',
    ),
    (
        "Diffusion models",
        "Denoising diffusion, score-based and flow-matching generative models.",
        '"diffusion model", "denoising diffusion", "score-based", "flow matching", '
        '"latent diffusion"',
    ),
    (
        "Vision-language models",
        "Models that see and talk: VLMs, captioning, visual question answering.",
        '"vision-language", VLM, "visual question answering", "image captioning", '
        '"multimodal large language model"',
    ),
    (
        "Multimodal learning",
        "Learning across text, images, audio and video.",
        'multimodal, "cross-modal", "audio-visual", "video understanding", "any-to-any"',
    ),
    (
        "Speech and audio",
        "Speech recognition, synthesis and audio language models.",
        '"speech recognition", "text-to-speech", "speech synthesis", ASR, TTS, "audio language '
        'model", category:eess.AS',
    ),
    (
        "Code generation",
        "Models that write, repair and reason about code.",
        '"code generation", "program synthesis", "code LLM", "software engineering agent", '
        '"code completion"',
    ),
    (
        "3D, NeRF and Gaussian splatting",
        "Neural 3D reconstruction and rendering.",
        '"neural radiance field", NeRF, "gaussian splatting", "3D reconstruction", '
        '"novel view synthesis"',
    ),
    (
        "Robotics",
        "Learning for robots: manipulation, locomotion, embodied agents.",
        'robot, "robot learning", manipulation, "embodied", "vision-language-action", '
        "category:cs.RO",
    ),
    (
        "Graph neural networks",
        "Learning on graphs and relational data.",
        '"graph neural network", GNN, "graph transformer", "message passing", "node '
        'classification"',
    ),
    (
        "Continual learning",
        "Learning new tasks without forgetting old ones.",
        '"continual learning", "lifelong learning", "catastrophic forgetting", '
        '"incremental learning"',
    ),
    (
        "Machine unlearning",
        "Removing what a model learned from specific data.",
        '"machine unlearning", unlearning, "data removal", "right to be forgotten"',
    ),
    (
        "Federated learning",
        "Training across devices or institutions without pooling data.",
        'federated, "decentralized training", "on-device training"',
    ),
    (
        "AI safety and alignment",
        "Alignment, jailbreaks, red teaming, interpretability.",
        '"AI safety", "AI alignment", "LLM alignment", jailbreak, "red teaming", '
        '"mechanistic interpretability"',
    ),
    (
        "Benchmarks and evaluation",
        "New benchmarks, evaluation methods and leaderboards.",
        'title:benchmark, "evaluation suite", leaderboard, "LLM-as-a-judge", "evaluation '
        'framework"',
    ),
]


def add_catalogue(apps, schema_editor):
    Topic = apps.get_model("digest", "Topic")
    existing = set(Topic.objects.values_list("name", flat=True))
    Topic.objects.bulk_create(
        Topic(name=name, description=description, query=query, public=True, order=order)
        for order, (name, description, query) in enumerate(CATALOGUE, start=1)
        if name not in existing
    )


def remove_catalogue(apps, schema_editor):
    Topic = apps.get_model("digest", "Topic")
    for name, _description, query in CATALOGUE:
        Topic.objects.filter(name=name, query=query).delete()


class Migration(migrations.Migration):
    dependencies = [
        ("digest", "0002_digest_claim_token"),
    ]

    operations = [
        migrations.RunPython(add_catalogue, remove_catalogue),
    ]
