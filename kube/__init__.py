"""kube: the library every kubelite daemon shares — models, API client, informers, work queue.

It imports no daemon; daemons import it and nothing of one another.
"""
