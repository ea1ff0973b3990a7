"""The words of a document, in each language it is written in: headings, notes, titles.

A document's formulas are the same in every language; its words are looked up
here by what they say, in the language of the
:class:`~symbackprop.printing.names.Notation` (``lang``), in the form of the
format: a terminal's heading is short, an article's a sentence.  The Chinese
follows the Chinese edition of *Dive into Deep Learning* (§3.14): 正向传播,
反向传播, 参数的梯度, 计算图.
"""

from __future__ import annotations

__all__ = ["LANGUAGES", "phrase", "page_words", "memory_words"]

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
    "gradients asked": {"en": ("Gradients", "Gradients."), "zh": ("梯度", "梯度。")},
    "notation": {"en": ("Notation", "Notation."), "zh": ("记号", "记号。")},
    "domains": {"en": ("Domains", "Domains."), "zh": ("取值范围", "取值范围。")},
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
    # a model with loops (printing/loops.py): a loop's heading, the part of a range a step
    # holds in, the closed form of a linear recurrence, and its H v document
    "loop": {"en": ("for {ranges}:", "For {ranges}:"), "zh": ("对 {ranges}：",) * 2},
    "loop part": {"en": ("  (for {ranges})",) * 2, "zh": ("  （对 {ranges}）",) * 2},
    "closed form": {"en": ("Closed form", "Closed form."), "zh": ("闭式解", "闭式解。")},
    "closed form note": {
        "en": ("The recurrence is linear and its coefficient is the same at every step, so it "
               "unrolls into powers of the coefficient: gradients through many steps shrink or "
               "grow with them.",) * 2,
        "zh": ("这个递推是线性的，且每一步的系数相同，所以它展开为系数的幂："
               "经过许多步的梯度随之衰减或增长。",) * 2},
    "valid from": {"en": ("These steps hold for {lengths} ≥ {first}.",) * 2,
                   "zh": ("这些步骤在 {lengths} ≥ {first} 时成立。",) * 2},
    "loop hvp title": {"en": ("Hessian-vector products",) * 2, "zh": ("Hessian 向量积",) * 2},
    "loop directions": {"en": ("Directions", "Directions."), "zh": ("方向", "方向。")},
    "direction of": {"en": ("a direction of {name}", "\\text{{a direction of }} {of}"),
                     "zh": ("{name} 的方向", "{of} \\text{{ 的方向}}")},
    "loop forward tangents": {"en": ("Forward tangents", "Forward tangents."),
                              "zh": ("正向切向量", "正向切向量。")},
    "loop backward tangents": {"en": ("Backward tangents",
                                      "Backward tangents, in the backward order."),
                               "zh": ("反向切向量", "反向切向量，按反向传播的顺序。")},
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


#: The words of the section on what backward keeps (LaTeX and Markdown; {fields} filled in).
_MEMORY = {
    "en": {"heading": "What backward keeps.", "peak": "Peak memory, in elements:",
           "head": ["Value", "Elements", "Bytes", "Read by", "Inference frees after",
                    "Training frees after"],
           "freed after": "Freed after", "inference": "inference", "training": "training",
           "caller": "caller", "returned": "returned", "nothing": "nothing", "list": ", ",
           "bytes in": " bytes in {dtype}", "bytes at": " Bytes in {dtype} at ${sizes}$.",
           "prose": ("Backward reads forward values, so training keeps each of them until the "
                     "last backward step that reads it, where inference frees it after its last "
                     "use in the forward pass. Kept for backward: {kept}. Counted in elements: "
                     "the named values held between two statements of the generated code, the "
                     "inputs, params and consts (marked {opening}caller{closing}) held "
                     "throughout; NumPy's temporaries within one statement come on top."),
           "shared": (" The values named $\\mathtt{t0}$, $\\mathtt{t1}$, ... are subexpressions "
                      "the code computes once and shares, as in the generated module."),
           "abstract": (" The functions {functions} are abstract here: bound to built-ins, a "
                        "derivative may read other values (the derivative of tanh reads its "
                        "output, not its input).")},
    "zh": {"heading": "反向传播保留的中间变量。", "peak": "内存峰值（按元素计）：",
           "head": ["值", "元素数", "字节数", "读取它的步骤", "推理时释放于", "训练时释放于"],
           "freed after": "释放于", "inference": "推理", "training": "训练",
           "caller": "调用者", "returned": "返回", "nothing": "无", "list": "，",
           "bytes in": " 字节（{dtype}）", "bytes at": "字节数按 {dtype} 计，取 ${sizes}$。",
           "prose": ("反向传播要读取正向传播的值，所以训练要保留每个值，直到最后一个读取它的反向"
                     "传播步骤；而推理在正向传播中最后一次使用它之后就释放它。为反向传播保留的："
                     "{kept}。按元素计数：生成代码的两条语句之间保留的具名值，以及始终保留的输入、"
                     "参数和常量（标为{opening}调用者{closing}）；"
                     "一条语句内 NumPy 的临时数组另计。"),
           "shared": ("名为 $\\mathtt{t0}$、$\\mathtt{t1}$……的值是代码只计算一次并共享的"
                      "子表达式，与生成的模块中的名称相同。"),
           "abstract": ("函数 {functions} 在这里是抽象的：绑定到内置函数后，导数可能读取别的值"
                        "（tanh 的导数读取它的输出，而不是它的输入）。")},
}


def memory_words(lang):
    """The words of the section on what backward keeps, in `lang`."""
    return _MEMORY[lang]
