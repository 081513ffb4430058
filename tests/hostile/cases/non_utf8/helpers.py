# résumé: helpers written in Latin-1, no coding line


def café():
    return "crème"
