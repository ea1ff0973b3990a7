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
    # the notation section: what a symbol of the formulas is, where they use it
    "note normal": {
        "en": ("{cdf} = (1 + erf(x/√2))/2 is the standard normal distribution function and "
               "{pdf} = exp(-x²/2)/√(2π) its density, entry by entry.",
               "Here ${cdf} = \\frac{{1}}{{2}}\\left(1 + \\operatorname{{erf}}\\left(x / "
               "\\sqrt{{2}}\\right)\\right)$ is the standard normal distribution function and "
               "${pdf} = e^{{-x^2/2}} / \\sqrt{{2\\pi}}$ its density, entry by entry."),
        "zh": ("{cdf} = (1 + erf(x/√2))/2 是标准正态分布函数，{pdf} = exp(-x²/2)/√(2π) "
               "是它的概率密度，逐元素计算。",
               "其中 ${cdf} = \\frac{{1}}{{2}}\\left(1 + \\operatorname{{erf}}\\left(x / "
               "\\sqrt{{2}}\\right)\\right)$ 是标准正态分布函数，"
               "${pdf} = e^{{-x^2/2}} / \\sqrt{{2\\pi}}$ 是它的概率密度，逐元素计算。")},
    "note tie": {
        "en": ("At a tie of max(a, b) or min(a, b), each argument takes half the adjoint (as "
               "torch.maximum and torch.minimum): the indicator is then 1/2.",) * 2,
        "zh": ("max(a, b) 或 min(a, b) 的两个参数相等时，每个参数得到一半的梯度"
               "（与 torch.maximum、torch.minimum 相同）：这时指示函数取 1/2。",) * 2},
    "note extreme": {
        "en": ("The indicator of where an extreme is, such as 1 where X reaches max(X), splits "
               "the adjoint evenly among tied entries (as torch.amax and torch.amin): at a tie "
               "of k entries it is 1/k.",) * 2,
        "zh": ("极值所在位置的指示函数（例如在 X 取到 max(X) 处为 1）把梯度平均分给并列的元素"
               "（与 torch.amax、torch.amin 相同）：k 个元素并列时取 1/k。",) * 2},
    "note Correlate": {
        "en": ("A ⋆ K is the cross-correlation of A with the kernel K, as PyTorch's conv2d "
               "computes it (no flip): entry (i, j) is the sum of K ⊙ the window of A at "
               "(i, j); A ⋆ₛ K moves the window s entries a step (a stride s).",
               "$A \\star K$ is the cross-correlation of $A$ with the kernel $K$, as PyTorch's "
               "conv2d computes it (no flip): entry $(i, j)$ is the sum of $K \\odot$ the "
               "window of $A$ at $(i, j)$; $A \\star_s K$ moves the window $s$ entries a step "
               "(a stride $s$)."),
        "zh": ("A ⋆ K 是 A 与卷积核 K 的互相关，与 PyTorch 的 conv2d 的计算相同（卷积核不翻转）："
               "第 (i, j) 个元素是 K ⊙ A 在 (i, j) 处的窗口的元素之和；"
               "A ⋆ₛ K 每一步把窗口移动 s 个元素（步幅为 s）。",
               "$A \\star K$ 是 $A$ 与卷积核 $K$ 的互相关，与 PyTorch 的 conv2d 的计算相同"
               "（卷积核不翻转）：第 $(i, j)$ 个元素是 $K \\odot$ $A$ 在 $(i, j)$ "
               "处的窗口的元素之和；$A \\star_s K$ 每一步把窗口移动 $s$ 个元素（步幅为 $s$）。")},
    "note Pad": {
        "en": ("pad(A, t, l) adds t zero rows above and below A and l zero columns on each side "
               "(of a vector, t zeros at each end; with four amounts: above, below, left, "
               "right; a negative amount crops).",
               "$\\operatorname{{pad}}(A, t, l)$ adds $t$ zero rows above and below $A$ and $l$ "
               "zero columns on each side (of a vector, $t$ zeros at each end; with four "
               "amounts: above, below, left, right; a negative amount crops)."),
        "zh": ("pad(A, t, l) 在 A 的上方和下方各添 t 行零，左右两侧各添 l 列零"
               "（对向量，两端各添 t 个零；给出四个数时依次是上、下、左、右；负数表示裁去）。",
               "$\\operatorname{{pad}}(A, t, l)$ 在 $A$ 的上方和下方各添 $t$ 行零，左右两侧各添 "
               "$l$ 列零（对向量，两端各添 $t$ 个零；给出四个数时依次是上、下、左、右；"
               "负数表示裁去）。")},
    "note Rot180": {
        "en": ("rot180(K) is K turned by 180°, its rows and columns reversed.",
               "$\\operatorname{{rot180}}(K)$ is $K$ turned by $180^\\circ$, its rows and "
               "columns reversed."),
        "zh": ("rot180(K) 是 K 旋转 180° 所得的矩阵，行和列的次序都倒过来。",
               "$\\operatorname{{rot180}}(K)$ 是 $K$ 旋转 $180^\\circ$ 所得的矩阵，"
               "行和列的次序都倒过来。")},
    "note Dilate": {
        "en": ("dilate(G, s) puts s − 1 zero rows and columns between those of G.",
               "$\\operatorname{{dilate}}(G, s)$ puts $s - 1$ zero rows and columns between "
               "those of $G$."),
        "zh": ("dilate(G, s) 在 G 的相邻两行之间、相邻两列之间各插入 s − 1 行、s − 1 列零。",
               "$\\operatorname{{dilate}}(G, s)$ 在 $G$ 的相邻两行之间、相邻两列之间各插入 "
               "$s - 1$ 行、$s - 1$ 列零。")},
    "note Upsample": {
        "en": ("upsample(G, k) copies each entry of G to a k × k block.",
               "$\\operatorname{{upsample}}(G, k)$ copies each entry of $G$ to a $k \\times k$ "
               "block."),
        "zh": ("upsample(G, k) 把 G 的每个元素复制成一个 k × k 的块。",
               "$\\operatorname{{upsample}}(G, k)$ 把 $G$ 的每个元素复制成一个 "
               "$k \\times k$ 的块。")},
    "note Pool": {
        "en": ("maxpool(X, k) and avgpool(X, k) are the max and the mean of each k × k window, "
               "the windows side by side.",
               "$\\operatorname{{maxpool}}(X, k)$ and $\\operatorname{{avgpool}}(X, k)$ are the "
               "max and the mean of each $k \\times k$ window, the windows side by side."),
        "zh": ("maxpool(X, k) 和 avgpool(X, k) 分别是每个 k × k 窗口的最大值和平均值，"
               "窗口互不重叠地并排。",
               "$\\operatorname{{maxpool}}(X, k)$ 和 $\\operatorname{{avgpool}}(X, k)$ "
               "分别是每个 $k \\times k$ 窗口的最大值和平均值，窗口互不重叠地并排。")},
    "note PoolMask": {
        "en": ("The indicator 𝟙[X ≥ upsample(P, k)] of max pooling is 1 where an entry is the "
               "max of its window; at a tie the first of the tied entries, row by row, takes "
               "the adjoint (as PyTorch's max_pool2d).",
               "The indicator $\\mathbb{{I}}[X \\geq \\operatorname{{upsample}}(P, k)]$ of max "
               "pooling is 1 where an entry is the max of its window; at a tie the first of the "
               "tied entries, row by row, takes the adjoint (as PyTorch's max\\_pool2d)."),
        "zh": ("最大池化的指示函数 𝟙[X ≥ upsample(P, k)] 在元素是其窗口的最大值处为 1；"
               "有并列时，按行依次数的第一个并列元素得到梯度（与 PyTorch 的 max_pool2d 相同）。",
               "最大池化的指示函数 $\\mathbb{{I}}[X \\geq \\operatorname{{upsample}}(P, k)]$ "
               "在元素是其窗口的最大值处为 1；有并列时，按行依次数的第一个并列元素得到梯度"
               "（与 PyTorch 的 max\\_pool2d 相同）。")},
    # what a declared domain says of its variable (printing/names.py domain_statements)
    "domain positive": {"en": ("entries > 0", "entries $> 0$"),
                        "zh": ("元素 > 0", "元素 $> 0$")},
    "domain onehot": {"en": ("one-hot",) * 2, "zh": ("是独热向量",) * 2},
    "domain simplex": {
        "en": ("in the probability simplex (entries ≥ 0 summing to 1)",
               "in the probability simplex (entries $\\geq 0$ summing to 1)"),
        "zh": ("在概率单纯形中（元素 ≥ 0，和为 1）", "在概率单纯形中（元素 $\\geq 0$，和为 1）")},
    "domain symmetric": {"en": ("symmetric",) * 2, "zh": ("对称",) * 2},
    "domain spd": {"en": ("symmetric positive definite",) * 2, "zh": ("对称正定",) * 2},
    "domain each row": {"en": ("each row {said}",) * 2, "zh": ("每一行{said}",) * 2},
    "domain sentence": {"en": ("{given}, {said}.",) * 2, "zh": ("{given}，{said}。",) * 2},
    "domain bare": {"en": ("{given}.",) * 2, "zh": ("{given}。",) * 2},
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
