/**
 * RxJava 3 and Picos, both ways. Everything starts at {@link org.picos.bridge.rxjava.PicosRx}:
 *
 * <ul>
 *   <li>Picos work as Rx sources: {@code single}, {@code maybe}, {@code completable},
 *       {@code flowable} (a fiber emitting through a {@link org.picos.reactive.Emitter}
 *       whose {@code next} suspends while there is no demand) and {@code observable}; cold, one
 *       fiber per subscription, disposal cancels the fiber.</li>
 *   <li>Rx sources awaited in a fiber: {@code await}, {@code awaitOrDefault},
 *       {@code awaitFirst}, {@code awaitLast} and {@code iterate} (a
 *       {@link org.picos.reactive.PublisherIterator} with bounded prefetch); cancelling the
 *       fiber disposes the subscription.</li>
 *   <li>Schedulers: {@code scheduler(rxScheduler)} runs fibers on an Rx scheduler,
 *       {@code asRxScheduler(picosScheduler)} runs Rx tasks in fibers.</li>
 * </ul>
 *
 * Failures nobody can receive go to {@code RxJavaPlugins.onError}.
 */
package org.picos.bridge.rxjava;
