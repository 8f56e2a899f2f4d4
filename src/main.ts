import 'reflect-metadata';
import { startZyva } from './bootstrap';

void startZyva();
