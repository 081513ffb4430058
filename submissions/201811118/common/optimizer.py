# coding: utf-8


class SGD:
    """확률적 경사 하강법 (Stochastic Gradient Descent)"""

    def __init__(self, lr=0.01):
        self.lr = lr

    def update(self, params, grads):
        # params의 배열을 그 자리에서 갱신해야 layers가 같은 배열을 보고 있다
        for key in params.keys():
            params[key] -= self.lr * grads[key]
