"""The words of a document, in each language it is written in: headings, notes, titles.

A document's formulas are the same in every language; its words are looked up
here by what they say, in the language of the
:class:`~symbackprop.printing.names.Notation` (``lang``), in the form of the
format: a terminal's heading is short, an article's a sentence.  The Chinese
follows the Chinese edition of *Dive into Deep Learning* (§3.14): 正向传播,
反向传播, 参数的梯度, 计算图.
"""

from __future__ import annotations

__all__ = ["LANGUAGES", "phrase", "page_words"]

#: The languages a document is written in.
LANGUAGES = ("en", "zh")

# what each phrase says: (text form, LaTeX form) a language; {fields} filled in
_PHRASES = {
    "forward": {"en": ("Forward", "Forward pass."),
                "zh": ("正向传播", "正向传播。")},
    "backward": {"en": ("Backward (reverse topological order, from {seed} = 1)",
                        "Backward pass, in reverse topological order, from ${seed} = 1$."),
                 "zh": ("反向传播（按逆拓扑顺序，从 {seed} = 1 开始）",
                        "反向传播（按逆拓扑顺序，从 ${seed} = 1$ 开始）。")},
    "backward, short": {"en": ("Backward (reverse topological order, from {seed} = 1)",
                               "Backward pass, from ${seed} = 1$."),
                        "zh": ("反向传播（按逆拓扑顺序，从 {seed} = 1 开始）",
                               "反向传播（从 ${seed} = 1$ 开始）。")},
    "gradients": {"en": ("Gradients of the params", "Gradients of the params."),
                  "zh": ("参数的梯度", "参数的梯度。")},
    "subject": {"en": ("Backpropagation through {objective}",) * 2,
                "zh": ("{objective} 的反向传播",) * 2},
    "title": {"en": ("Backpropagation",) * 2, "zh": ("反向传播",) * 2},
    "hvp subject": {"en": ("Hessian-vector products of {objective}",) * 2,
                    "zh": ("{objective} 的 Hessian 向量积",) * 2},
    "hvp title": {"en": ("Second derivatives",) * 2, "zh": ("二阶导数",) * 2},
    "directions": {"en": ("Directions", "Directions: {listed}."),
                   "zh": ("方向", "方向：{listed}。")},
    "direction for": {"en": ("{v} for {name}{shape}", "${v}$ for ${name}$"),
                      "zh": ("{v} 对应 {name}{shape}", "${v}$ 对应 ${name}$")},
    "list": {"en": (", ",) * 2, "zh": ("，",) * 2},
    "forward tangents": {"en": ("Forward tangents (forward order)",
                                "Forward tangents, in forward order."),
                         "zh": ("正向切向量（按正向顺序）", "正向切向量（按正向顺序）。")},
    "backward tangents": {"en": ("Backward tangents (reverse topological order)",
                                 "Backward tangents, in reverse topological order."),
                          "zh": ("反向切向量（按逆拓扑顺序）", "反向切向量（按逆拓扑顺序）。")},
    "products": {"en": ("Hessian-vector products",
                        "Hessian-vector products of the objective, per variable."),
                 "zh": ("Hessian 向量积", "目标函数的 Hessian 向量积，按变量。")},
    "product of": {"en": ("H v for {name}: {lhs}", "{lhs}"),
                   "zh": ("{name} 的 H v: {lhs}", "{lhs}")},
    "r operator": {
        "en": ("{r} is the derivative along the directions: the rate of change of a value when "
               "every moving variable {moving} becomes {moved}, at {at} (Pearlmutter's "
               "R-operator, forward-over-reverse).",) * 2,
        "zh": ("{r} 是沿方向的导数：每个变动的变量 {moving} 变为 {moved} 时，一个值在 {at} "
               "处的变化率（Pearlmutter 的 R 算子，在反向传播之上再做一次正向求导）。",) * 2},
    "fixed": {"en": ("Fixed (their tangents are 0): {fixed}.",) * 2,
              "zh": ("固定的变量（切向量为 0）：{fixed}。",) * 2},
    "second partial": {
        "en": ("The second derivative of an abstract loss is its Hessian in the argument, a "
               "matrix for a vector argument (multiplying the tangent), a linear map for a "
               "matrix argument (applied to the tangent in brackets).",) * 2,
        "zh": ("抽象损失函数的二阶导数是它关于自变量的 Hessian："
               "自变量是向量时为矩阵（乘以切向量），"
               "是矩阵时为线性映射（作用于括号中的切向量）。",) * 2},
    "at the end": {
        "en": ("At the end, the tangent of each gradient is the Hessian of the objective times "
               "the directions, restricted to that variable: {product}.",) * 2,
        "zh": ("最后，每个梯度的切向量就是目标函数的 Hessian 乘以方向，"
               "限制在该变量上：{product}。",) * 2},
    "standalone title": {"en": ("{title}: ",) * 2, "zh": ("{title}：",) * 2},
    "derived": {"en": ("{subject}, derived by symbackprop from {filename}",) * 2,
                "zh": ("{subject}，由 symbackprop 从 {filename} 推导",) * 2},
}

#: The words of the web page around the document.
_PAGE = {
    "en": {"forward": "Graph", "backward": "Backward graph",
           "second-order": "Second-order graph", "second order": "Second order",
           "not drawn": "Not drawn"},
    "zh": {"forward": "计算图", "backward": "反向传播的计算图",
           "second-order": "二阶导数的计算图", "second order": "二阶导数",
           "not drawn": "未绘制"},
}


def phrase(key, lang, latex, **fields):
    """What `key` says in `lang`, in the text form or the LaTeX form, `fields` filled in.

    Examples
    --------
    >>> phrase("backward", "zh", False, seed="∂J/∂J")
    '反向传播（按逆拓扑顺序，从 ∂J/∂J = 1 开始）'
    >>> phrase("gradients", "en", True)
    'Gradients of the params.'
    """
    text, tex = _PHRASES[key][lang]
    return (tex if latex else text).format(**fields)


def page_words(lang):
    """The words of the web page in `lang`: its buttons and its notes."""
    return _PAGE[lang]
